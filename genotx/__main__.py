"""`python -m genotx ...` (also the entry point for `torchrun -m genotx`)."""

from genotx.cli import app

if __name__ == "__main__":
    app(prog_name="genotx")
