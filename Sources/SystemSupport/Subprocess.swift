#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn` (Foundation's `Process` is not in
/// FoundationEssentials). Its standard input is a pipe the parent writes; standard output goes to
/// /dev/null and standard error to `errorPath`. The child inherits the environment.
public final class Subprocess {
    public let pid: pid_t
    /// The write end of the child's standard input; `closeInput()` closes it (the child sees EOF).
    public private(set) var inputFD: Int32

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init(executable: String, arguments: [String], errorPath: String) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        // The parent's end must not leak into the child (it would never see EOF).
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(fds[0])
        guard rc == 0 else {
            close(fds[1])
            throw Failure(description: String(cString: strerror(rc)))
        }
        pid = child
        inputFD = fds[1]
    }

    public func closeInput() {
        if inputFD >= 0 { close(inputFD); inputFD = -1 }
    }

    /// Waits for the child to end: its exit status, or the signal that ended it.
    public func wait() -> (exited: Bool, status: Int32) {
        closeInput()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        let signal = status & 0x7f
        return signal == 0 ? (true, (status >> 8) & 0xff) : (false, signal)
    }

    deinit { closeInput() }
}
