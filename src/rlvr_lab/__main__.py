"""``python -m rlvr_lab`` runs the ``rlvr`` command line (useful from a checkout without the console script)."""

from rlvr_lab.cli import main

if __name__ == "__main__":
    main()
