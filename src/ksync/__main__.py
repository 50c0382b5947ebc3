from ksync.cli import main

main()
