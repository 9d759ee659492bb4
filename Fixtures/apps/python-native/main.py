# Native extensions built from sdists in the build stage (pg_config, a C compiler and the cairo headers come from
# the native-dependency table); only libpq5 and libcairo2 are in the runtime image.
import cairo
import psycopg2

surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 8, 8)
ctx = cairo.Context(surface)
ctx.set_source_rgb(1, 0, 0)
ctx.paint()
print("psycopg2", psycopg2.__version__.split(" ")[0], "libpq", psycopg2.__libpq_version__,
      "cairo", cairo.cairo_version_string(), "pixel", surface.get_data()[:4].hex())
