from dsr_bot.cli import main

main()
