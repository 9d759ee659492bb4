@main def hi() = println(1)
