# Sourced by the daemon's shell tests: wait_for_socket SOCKET PID waits (60 s at most) until
# the daemon PID listens on SOCKET; it fails the test when the daemon exits first.
wait_for_socket() {
  deadline=$(($(date +%s) + 60))
  until [ -S "$1" ]; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "tetherd mirror exited before listening"
      exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "no socket after 60 s"
      exit 1
    fi
    sleep 0.05
  done
}
