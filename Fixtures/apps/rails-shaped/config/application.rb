# A Rails-shaped app without gems (config/application.rb makes the planner take it for Rails).
