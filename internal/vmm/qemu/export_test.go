package qemu

// QMPDo exposes one-shot QMP commands to the external tests.
var QMPDo = qmpDo
