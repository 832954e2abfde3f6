from qgjob.cli.main import main

main()
