"""``kubectl backup-auditor ...``: the package's ``kubectl-backup_auditor`` script (a kubectl plugin).

kubectl runs the script with the words after the plugin's name. kubectl users put the flags they use
everywhere (``--context``, ``--kubeconfig``, ``-n/--namespace``, ``-A``) before or after the subcommand;
the ones before it are moved after the command words, where the auditor's commands take them.
"""

from __future__ import annotations

import sys

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
    from auditor.cli import main

    main(args=plugin_args(sys.argv[1:]), prog_name=PROG, complete_var="_AUDITOR_COMPLETE")


if __name__ == "__main__":  # the krew archive's launcher runs ``python3 -m auditor.cli.kubectl``
    kubectl_main()
