;; Policy that logs and denies with a reason.
(module
  (import "agentsecrets" "deny" (func $deny (param i32 i32) (result i32)))
  (import "agentsecrets" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "not on weekends")
  (data (i32.const 32) "checking the calendar")
  (func (export "on_request") (result i32)
    (drop (call $log (i32.const 1) (i32.const 32) (i32.const 21)))
    (drop (call $deny (i32.const 0) (i32.const 15)))
    (i32.const 1)))
