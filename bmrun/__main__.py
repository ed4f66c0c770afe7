"""``python -m bmrun`` is the same as the ``bmrun`` command."""

from bmrun.cli import main

if __name__ == "__main__":
    main()
