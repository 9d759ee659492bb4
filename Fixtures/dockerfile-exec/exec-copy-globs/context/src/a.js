ja
