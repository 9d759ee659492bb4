<?php
// Front controller: the autoloader from composer install, config and routes from the build-time caches, and a
// write to storage/ (writable for the runtime user; the rest of the app is not).
require __DIR__ . '/../vendor/autoload.php';
$config = require __DIR__ . '/../bootstrap/cache/config.php';
$routes = require __DIR__ . '/../bootstrap/cache/routes-v7.php';
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$logged = file_put_contents(__DIR__ . '/../storage/logs/requests.log', $path . PHP_EOL, FILE_APPEND) !== false;
$readOnly = @file_put_contents(__DIR__ . '/../config/written.php', 'x') === false;
$body = preg_match('#^/users/(\d+)$#', $path, $m) ? \App\Users::show($m[1]) : 'home';
header('Content-Type: text/plain');
echo $config['app']['name'] . ' ' . $body . ' uid=' . posix_geteuid() . ' routes=' . count($routes)
    . ' storage=' . ($logged ? 'writable' : 'read-only') . ' config=' . ($readOnly ? 'read-only' : 'writable');
