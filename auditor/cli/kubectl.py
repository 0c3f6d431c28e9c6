"""``kubectl backup-auditor ...``: the package's ``kubectl-backup_auditor`` script (a kubectl plugin).

kubectl runs the script with the words after the plugin's name. kubectl users put the flags they use
everywhere (``--context``, ``--kubeconfig``, ``-n/--namespace``, ``-A``) before or after the subcommand;
the ones before it are moved after the command words, where the auditor's commands take them.
"""

from __future__ import annotations

import sys

from click.shell_completion import ShellComplete

from auditor.cli.base import main

#: kubectl's habitual flags: (names, takes a value)
HABITS = {"--context": True, "--kubeconfig": True, "-n": True, "--namespace": True, "-A": False,
          "--all-namespaces": False}
PROG = "kubectl backup-auditor"


def plugin_args(argv: list[str]) -> list[str]:
    """``-n shop --context prod scan -o json`` → ``scan -o json -n shop --context prod``."""
    moved: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        name = word.split("=", 1)[0]
        if name in HABITS:
            takes = HABITS[name] and "=" not in word
            moved.extend(argv[i:i + 1 + takes])
            i += 1 + takes
        elif word.startswith("-n") and len(word) > 2 and not word.startswith("--"):  # -nshop
            moved.append(word)
            i += 1
        else:
            break
    rest = argv[i:]
    if not moved or not rest:
        return argv
    return [*rest, *moved]


def kubectl_main() -> None:
    main(args=plugin_args(sys.argv[1:]), prog_name=PROG, complete_var="_AUDITOR_COMPLETE")


def complete_main() -> None:
    """``kubectl_complete-backup_auditor``: kubectl (1.26+) runs it to complete ``kubectl backup-auditor ...``
    with the words so far and the word being completed; it prints one completion a line, then cobra's
    directive line (``:4`` no file completion, ``:0`` files allowed)."""
    words = sys.argv[1:]
    incomplete = words.pop() if words else ""
    words = plugin_args(words)
    if words and HABITS.get(words[-1]) and plugin_args(words) == words and words[0].startswith("-"):
        words = ["scan", *words]  # `--context prod -n <TAB>` before a command: its values, as scan takes them
    items = ShellComplete(main, {}, PROG, "_AUDITOR_COMPLETE").get_completions(words, incomplete)
    for item in items:
        if item.type == "plain":
            sys.stdout.write(item.value + (f"\t{item.help}" if item.help else "") + "\n")
    files = any(item.type in ("file", "dir") for item in items)
    sys.stdout.write(":0\n" if files else ":4\n")


if __name__ == "__main__":  # the krew archive's launcher runs ``python3 -m auditor.cli.kubectl``
    kubectl_main()
