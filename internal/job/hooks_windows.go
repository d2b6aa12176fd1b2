//go:build windows

package job

import (
	"os/exec"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a hook runs in a Job Object of its own: every process the hook
// starts belongs to it too, and a timeout terminates them all. Windows has
// no SIGTERM for a program without a window, so the first signal already
// ends the tree. A process the hook starts in the moment between its start
// and its joining the Job Object is not in it.

var hookJobs sync.Map // *exec.Cmd -> windows.Handle

func ownProcessGroup(cmd *exec.Cmd) {}

// joinTree puts the started hook into a new Job Object and returns the
// function that lets go of it (processes the hook left running keep
// running).
func joinTree(cmd *exec.Cmd) func() {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return func() {}
	}
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err == nil {
		err = windows.AssignProcessToJobObject(job, p)
		windows.CloseHandle(p)
	}
	if err != nil {
		windows.CloseHandle(job)
		return func() {}
	}
	hookJobs.Store(cmd, job)
	return func() {
		hookJobs.Delete(cmd)
		windows.CloseHandle(job)
	}
}

// signalGroup terminates every process of the hook's Job Object (or the
// hook alone when it has none).
func signalGroup(cmd *exec.Cmd, kill bool) {
	if job, ok := hookJobs.Load(cmd); ok {
		_ = windows.TerminateJobObject(job.(windows.Handle), 1)
		return
	}
	_ = cmd.Process.Kill()
}

// jobAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
type jobAccounting struct {
	TotalUserTime, TotalKernelTime, ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime int64
	TotalPageFaultCount, TotalProcesses, ActiveProcesses, TotalTerminatedProcesses     uint32
}

// groupAlive reports whether a process of the hook's Job Object is left.
func groupAlive(cmd *exec.Cmd) bool {
	job, ok := hookJobs.Load(cmd)
	if !ok {
		return false
	}
	var info jobAccounting
	err := windows.QueryInformationJobObject(job.(windows.Handle), windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil)
	return err == nil && info.ActiveProcesses > 0
}
