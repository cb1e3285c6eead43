package host_test

import "banger/internal/agent/agenttest"

// Shared with the agent's own tests (internal/agent/agenttest).
var (
	socketpair   = agenttest.SocketPair
	killSessions = agenttest.KillSessions
	ctxT         = agenttest.Context
)

type syncBuffer = agenttest.Buffer
