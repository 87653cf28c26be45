;; Hostile guest: grows memory until the host refuses, then traps.
(module
  (memory (export "memory") 1)
  (func (export "on_request") (result i32)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))
