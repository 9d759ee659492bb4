<?php
// Served by nginx + php-fpm: reports the user php-fpm runs as.
header('Content-Type: text/plain');
echo 'php ' . PHP_MAJOR_VERSION . ' uid=' . posix_geteuid() . ' path=' . parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
