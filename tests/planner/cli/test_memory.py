from planner.cli import memory


def test_a_command_keeps_the_memory_it_frees_where_glibc_allows(monkeypatch):

    calls = []

    class Glibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: Glibc())
    memory.keep_freed_memory()
    # malloc.h: M_MMAP_THRESHOLD is -3, M_TRIM_THRESHOLD -1; 2**25 B = 32 MiB, 2**28 B = 256 MiB
    assert calls == [(-3, 2**25), (-1, 2**28)]
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: object())  # a C library without mallopt
    memory.keep_freed_memory()  # changes nothing, raises nothing

    def no_library(name):
        raise OSError("no C library")

    monkeypatch.setattr(memory.ctypes, "CDLL", no_library)
    memory.keep_freed_memory()
    assert len(calls) == 2


def test_only_the_console_script_sets_it(monkeypatch):
    # `main()` with no argv is the console script (the process is the command); `main(argv)` is a
    # program or a test calling rackplan in its own process, whose allocator is left as it is.
    from planner.cli import main as entry

    calls = []
    monkeypatch.setattr(entry, "keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(entry, "_run", lambda args: None)
    monkeypatch.setattr(entry, "pause_gc", lambda: None)  # this test process keeps its collector as it is
    monkeypatch.setattr(entry, "resume_gc", lambda: None)
    entry.main(["--version"])
    assert calls == []
    monkeypatch.setattr(entry.sys, "argv", ["rackplan", "--version"])
    entry.main()
    assert calls == [1]
