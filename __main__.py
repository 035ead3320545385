"""Entry point of the Pulumi program (``pulumi up --stack <env>``); see components/program.py."""

from components.program import main

main()
