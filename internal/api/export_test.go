package api

// HoldSimulation takes the handler's one simulation slot, as a running
// simulation does, until release is called.
func (h *Handler) HoldSimulation() (release func()) {
	h.simulating.Lock()
	return h.simulating.Unlock
}
