import sys

from captum_fido.cli import main

sys.exit(main(prog="python -m captum_fido"))
