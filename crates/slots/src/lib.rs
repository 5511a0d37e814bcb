//! GPT A/B slot manager: attribute bits, the boot-time choice identical to
//! Flatcar's GRUB `gptprio.next`, crash-safe table commits and payload install.
