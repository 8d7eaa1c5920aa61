#include "sandbox/seccomp.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include <seccomp.h>

namespace aio::sandbox {
namespace {

// Denied outright. Names this libseccomp does not know on this architecture are skipped.
constexpr const char *kDenied[] = {
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_getfd", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm", "uselib",
    "personality", "io_uring_setup", "io_uring_enter", "io_uring_register", "lookup_dcookie", "vhangup",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "sethostname", "setdomainname",
};

// clone() may make a thread or a process, but not a namespace.
constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                            CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

} // namespace

Expected<SeccompFilter> build_seccomp_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return internal_error("seccomp_init failed");
  SeccompFilter f;
  auto fail = [&](const std::string &what, int rc) {
    seccomp_release(ctx);
    return internal_error("seccomp: " + what + ": " + std::strerror(-rc));
  };
  for (const char *name : kDenied) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc < 0) return fail(name, rc);
    f.denied.push_back(name);
  }
  for (unsigned long flag : kNamespaceFlags) // one rule per flag: a filter compares masked values for equality only
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc < 0)
      return fail("clone", rc);
  // clone3 passes its flags in memory, where a filter cannot look: refuse it as unknown, and the C library falls
  // back to clone(), which the rule above checks.
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc < 0) return fail("clone3", rc);
  f.denied.push_back("clone with namespace flags");

  // Export through a memory file: libseccomp writes the program to a descriptor.
  const int fd = memfd_create("aio-seccomp", MFD_CLOEXEC);
  if (fd < 0) return fail("memfd_create", -errno);
  if (int rc = seccomp_export_bpf(ctx, fd); rc < 0) {
    close(fd);
    return fail("export", rc);
  }
  seccomp_release(ctx);
  const off_t size = lseek(fd, 0, SEEK_END);
  f.bpf.resize(static_cast<size_t>(std::max<off_t>(size, 0)));
  const bool read_back = size > 0 && pread(fd, f.bpf.data(), f.bpf.size(), 0) == size;
  close(fd);
  if (!read_back) return internal_error("seccomp: reading the exported filter back failed");
  return f;
}

} // namespace aio::sandbox
