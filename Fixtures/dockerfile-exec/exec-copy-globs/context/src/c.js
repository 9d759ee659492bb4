jc
