<?php
return ['name' => 'laravel-shaped', 'env' => getenv('APP_ENV') ?: 'unset'];
