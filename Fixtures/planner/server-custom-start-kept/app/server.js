// custom
