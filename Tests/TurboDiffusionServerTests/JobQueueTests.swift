import Foundation
import Testing
@testable import TurboDiffusionServer

@Suite struct JobQueueTests {
    func makeQueue(_ executor: FakeExecutor, capacity: Int = 16) throws -> (JobQueue, JobStore, EventHub, String) {
        let dir = try temporaryDirectory()
        let store = try JobStore(path: dir + "/state/jobs.json")
        let hub = EventHub()
        let queue = JobQueue(store: store, hub: hub, executor: executor, uploads: try Uploads(directory: dir + "/state/uploads"),
                             outputs: try Outputs(directory: dir + "/out"), frames: try FrameStore(directory: dir + "/state/frames"),
                             capacity: capacity, log: { _ in })
        return (queue, store, hub, dir)
    }

    func request(_ prompt: String) -> JobRequest {
        var r = JobRequest()
        r.prompt = prompt
        r.model = "demo"
        return r
    }

    @Test func runsInOrderAndRefusesWhenFull() throws {
        let gate = DispatchSemaphore(value: 0)
        let executor = FakeExecutor(gate: gate)
        let (queue, store, _, dir) = try makeQueue(executor, capacity: 2)
        queue.start()
        defer { queue.shutdown(); for _ in 0 ..< 8 { gate.signal() } }
        let first = try queue.submit(request("one"))
        #expect(eventually { queue.runningID == first.id })
        let second = try queue.submit(request("two")), third = try queue.submit(request("three"))
        do {
            _ = try queue.submit(request("four"))
            Issue.record("a full queue accepted a job")
        } catch let e as APIError {
            #expect(e.status.code == 429)
        }
        for _ in 0 ..< 3 { gate.signal() }
        #expect(eventually { store.get(third.id)?.status == .succeeded })
        #expect(executor.ran == ["one", "two", "three"])
        for id in [first.id, second.id, third.id] {
            let r = try #require(store.get(id))
            #expect(r.status == .succeeded && r.progress?.fraction == 1 && r.output?.url == Outputs.url(r.output!.name))
            #expect(FileManager.default.fileExists(atPath: dir + "/out/" + r.output!.name))
        }
    }

    /// A job submitted with `frames` gets its PNG frames kept and counted; only the newest `keep`
    /// jobs' frames stay; jobs without `frames` keep none.
    @Test func framesAreKeptCountedAndPruned() throws {
        let executor = FakeExecutor(steps: 1)
        let (queue, store, _, dir) = try makeQueue(executor)
        queue.start()
        defer { queue.shutdown() }
        let frames = try FrameStore(directory: dir + "/state/frames")
        var ids: [String] = []
        for i in 0 ..< frames.keep + 2 {
            var r = request("with frames \(i)")
            r.frames = true
            let id = try queue.submit(r).id
            #expect(eventually { store.get(id)?.status == .succeeded })
            ids.append(id)
            usleep(10_000)   // distinct modification times
        }
        let last = try #require(store.get(ids.last!))
        #expect(last.output?.frames == 3)
        #expect(frames.count(ids.last!) == 3)
        let png = try frames.png(ids.last!, 2)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(throws: APIError.self) { try frames.png(ids.last!, 3) }
        // The two oldest were pruned.
        #expect(frames.count(ids[0]) == 0 && frames.count(ids[1]) == 0 && frames.count(ids[2]) == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: frames.directory).count == frames.keep)
        let plain = try queue.submit(request("no frames")).id
        #expect(eventually { store.get(plain)?.status == .succeeded })
        #expect(store.get(plain)?.output?.frames == nil && frames.count(plain) == 0)
    }

    @Test func cancelsQueuedAndRunningJobs() throws {
        let gate = DispatchSemaphore(value: 0)
        let executor = FakeExecutor(steps: 200, delay: 0.01, gate: gate)
        let (queue, store, _, dir) = try makeQueue(executor)
        queue.start()
        defer { queue.shutdown(); for _ in 0 ..< 4 { gate.signal() } }
        let running = try queue.submit(request("long")), waiting = try queue.submit(request("waiting"))
        #expect(eventually { queue.runningID == running.id })
        guard case .cancelled(let w) = try queue.cancel(waiting.id) else { Issue.record("queued job not cancelled at once"); return }
        #expect(w.status == .cancelled)
        gate.signal()
        #expect(eventually { (store.get(running.id)?.progress?.step ?? 0) > 2 })
        guard case .stopping = try queue.cancel(running.id) else { Issue.record("running job not stopping"); return }
        #expect(eventually { store.get(running.id)?.status == .cancelled })
        guard case .alreadyFinished = try queue.cancel(running.id) else { Issue.record("a finished job cancelled twice"); return }
        #expect(executor.ran == ["long"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").isEmpty)
        #expect(throws: APIError.self) { try queue.cancel("0123456789abcdef") }
    }

    @Test func eventsAreMonotoneAndEndWithTheTerminalState() async throws {
        let executor = FakeExecutor(steps: 20, delay: 0.002)
        let (queue, store, hub, _) = try makeQueue(executor)
        let job = try queue.submit(request("watched"))
        let stream = hub.subscribe(job.id) { store.get(job.id) }
        queue.start()
        defer { queue.shutdown() }
        var fractions: [Double] = [], statuses: [JobStatus] = []
        for await r in stream {
            statuses.append(r.status)
            fractions.append(r.progress?.fraction ?? 0)
        }
        #expect(statuses.first == .queued && statuses.last == .succeeded)
        #expect(statuses.filter(\.isTerminal).count == 1)
        #expect(zip(fractions, fractions.dropFirst()).allSatisfy { $0 <= $1 }, "\(fractions)")
        #expect(fractions.last == 1)
        // A subscriber that comes after the end gets the final record and an ended stream.
        var late: [JobStatus] = []
        for await r in hub.subscribe(job.id, current: { store.get(job.id) }) { late.append(r.status) }
        #expect(late == [.succeeded])
    }

    @Test func restartReleasesBetweenJobs() async throws {
        let executor = FakeExecutor()
        let (queue, _, _, _) = try makeQueue(executor)
        queue.start()
        defer { queue.shutdown() }
        #expect(await queue.restart() == "released")
        #expect(executor.releases == 1)
    }
}

@Suite struct GuardTests {
    @Test func hostsCookiesAndTokens() {
        for h in ["127.0.0.1:7860", "localhost:80", "[::1]:7860", "127.0.0.1", "LOCALHOST:1"] {
            #expect(GuardMiddleware<BasicRequestContextAlias>.isLoopbackHost(h), "\(h)")
        }
        for h in ["evil.com", "127.0.0.1.evil.com:80", "10.0.0.1:7860", "[::2]:1", ""] {
            #expect(!GuardMiddleware<BasicRequestContextAlias>.isLoopbackHost(h), "\(h)")
        }
        #expect(GuardMiddleware<BasicRequestContextAlias>.cookie("td_token", ["a=1; td_token=xyz", "b=2"]) == "xyz")
        #expect(GuardMiddleware<BasicRequestContextAlias>.cookie("td_token", ["xtd_token=1"]) == nil)
        #expect(GuardMiddleware<BasicRequestContextAlias>.equal("secret-token", "secret-token"))
        #expect(!GuardMiddleware<BasicRequestContextAlias>.equal("secret-token", "secret-tokem"))
        #expect(!GuardMiddleware<BasicRequestContextAlias>.equal("secret", "secret-token"))
    }
}
