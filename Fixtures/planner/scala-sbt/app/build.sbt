name := "hello"
scalaVersion := "3.3.1"
enablePlugins(JavaAppPackaging)
