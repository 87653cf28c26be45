;; Hostile guest: sets header after header, each with a new name and a
;; 64 KiB value, until the host refuses one; it then returns the host's
;; code. Guest memory is capped, but without a limit on writes the request
;; it grows in the host is bounded only by the deadline.
(module
  (import "agentsecrets" "header_set" (func $header_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func $digit (param $at i32) (param $i i32) (param $shift i32)
    (i32.store8 (local.get $at)
      (i32.add (i32.const 0x61) (i32.and (i32.shr_u (local.get $i) (local.get $shift)) (i32.const 15)))))
  (func (export "on_request") (result i32)
    (local $i i32) (local $r i32)
    (memory.fill (i32.const 65536) (i32.const 0x61) (i32.const 65536))
    (i32.store8 (i32.const 0) (i32.const 0x58)) ;; "X", then 8 letters a-p
    (loop $next
      (call $digit (i32.const 1) (local.get $i) (i32.const 28))
      (call $digit (i32.const 2) (local.get $i) (i32.const 24))
      (call $digit (i32.const 3) (local.get $i) (i32.const 20))
      (call $digit (i32.const 4) (local.get $i) (i32.const 16))
      (call $digit (i32.const 5) (local.get $i) (i32.const 12))
      (call $digit (i32.const 6) (local.get $i) (i32.const 8))
      (call $digit (i32.const 7) (local.get $i) (i32.const 4))
      (call $digit (i32.const 8) (local.get $i) (i32.const 0))
      (local.set $r (call $header_set (i32.const 0) (i32.const 9) (i32.const 65536) (i32.const 65536)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.eqz (local.get $r))))
    (local.get $r)))
