"""``python -m service.cli``: the ``consentry`` command, without its script."""

from service.cli import main

if __name__ == "__main__":
    main()
