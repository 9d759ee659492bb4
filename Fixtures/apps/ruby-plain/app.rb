require "socket"
port = Integer(ENV.fetch("PORT", "8080"))
server = TCPServer.new("0.0.0.0", port)
loop do
  c = server.accept
  c.gets
  body = "ruby #{RUBY_VERSION}"
  c.print "HTTP/1.1 200 OK\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
  c.close
end
