;; Hostile guest: asks for 1 GiB of memory up front.
(module
  (memory (export "memory") 16384)
  (func (export "on_request") (result i32) (i32.const 0)))
