import ArgumentParser
// @preconcurrency only for `stdout`, a C global that Swift 6 otherwise refuses to touch; it is
// set once, before anything runs.
@preconcurrency import Glibc
import PairgateApp

/// The executable's entry point; the commands live in PairgateApp so tests can reach them.
@main
enum Pairgate {
    static func main() async {
        // Each line leaves at once, also into a pipe or a file: without this, standard output is
        // block-buffered there, and `pairgate link | tee log` showed the pairing code only when
        // the command ended. Every command's progress lines are print() calls, so one setting
        // covers them all.
        setvbuf(stdout, nil, _IOLBF, 0)
        await PairgateCommand.main()
    }
}
