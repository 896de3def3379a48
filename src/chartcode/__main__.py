from chartcode.cli import main

main()
