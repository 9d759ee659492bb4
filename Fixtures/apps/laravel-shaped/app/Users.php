<?php
namespace App;

final class Users
{
    public static function show(string $id): string { return "user $id"; }
}
