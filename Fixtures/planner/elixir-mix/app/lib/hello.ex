defmodule Hello do
end
