import Foundation

/// Work for many chats at once, each chat's work strictly in order: the shape of both the update processor
/// and the reply sender. A lane is one chat; at most `limit` lanes run at a time, and a lane that waits (a
/// retry, a rate limit, a slow download) holds up only its own chat.
struct ChatLanes<Lane: Hashable & Sendable>: Sendable {
    let limit: Int
    /// Woken when work arrives; lanes also fire it when they finish, so their chat is looked at again.
    let wake: Nudge

    /// Until cancelled: asks `due` which lanes have work now (given the ones running) and how long to wait
    /// when none has, and runs `drain` for each lane that is not running yet.
    func run(due: @escaping @Sendable (_ running: Set<Lane>) async -> (lanes: [Lane], wait: Duration),
             drain: @escaping @Sendable (Lane) async -> Void) async {
        let running = RunningLanes<Lane>()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let (lanes, wait) = await due(await running.current)
                for lane in lanes where await running.start(lane, limit: limit) {
                    group.addTask {
                        await drain(lane)
                        await running.finish(lane)
                        wake.fire()
                    }
                }
                await wake.wait(timeout: wait)
            }
        }
    }
}

private actor RunningLanes<Lane: Hashable & Sendable> {
    private(set) var current: Set<Lane> = []

    func start(_ lane: Lane, limit: Int) -> Bool {
        guard current.count < limit, !current.contains(lane) else { return false }
        current.insert(lane)
        return true
    }

    func finish(_ lane: Lane) {
        current.remove(lane)
    }
}
