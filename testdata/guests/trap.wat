;; Hostile guest: traps.
(module
  (memory (export "memory") 1)
  (func (export "on_request") (result i32) unreachable))
