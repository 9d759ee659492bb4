<?php
return ['/users/{id}' => 'App\\Users@show'];
