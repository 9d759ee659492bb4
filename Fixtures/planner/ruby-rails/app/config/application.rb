require 'rails'
