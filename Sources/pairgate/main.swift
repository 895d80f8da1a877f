import ArgumentParser
import PairgateApp

await PairgateCommand.main()
