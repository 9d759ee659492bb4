// writes site/
