set terminal png size 960,600
set grid
set key left top
set output 'latency_cdf.png'
set title 'Latency close() → complete at target, 4 KiB files at 100/s (CDF)'
set xlabel 'latency (ms, log scale)'
set ylabel 'fraction of files'
set logscale x
unset logscale y
set yrange [0:1]
plot 'data/latency-tetherd.dat' using 1:2 with lines lw 2 title 'tetherd', 'data/latency-lsyncd_direct.dat' using 1:2 with lines lw 2 title 'lsyncd direct', 'data/latency-lsyncd_rsync.dat' using 1:2 with lines lw 2 title 'lsyncd rsync'
set output 'scaling_time.png'
set title 'Scaling: initial sync, time vs files'
set xlabel 'files (log)'
set ylabel 'time (s, log)'
set logscale xy
set autoscale y
plot 'data/scaling-initial-cp_-a.dat' using 1:2 with linespoints lw 2 title 'cp -a', 'data/scaling-initial-cp_-a_+_sync.dat' using 1:2 with linespoints lw 2 title 'cp -a + sync', 'data/scaling-initial-lsyncd_rsync.dat' using 1:2 with linespoints lw 2 title 'lsyncd rsync', 'data/scaling-initial-rsync_-a.dat' using 1:2 with linespoints lw 2 title 'rsync -a', 'data/scaling-initial-tetherd.dat' using 1:2 with linespoints lw 2 title 'tetherd', 'data/scaling-initial-tetherd_--no-durable.dat' using 1:2 with linespoints lw 2 title 'tetherd --no-durable'
set output 'scaling_rss.png'
set title 'Scaling: initial sync, peak RSS vs files'
set xlabel 'files (log)'
set ylabel 'peak RSS (MiB, log)'
set logscale xy
set autoscale y
plot 'data/scaling-initial-cp_-a.dat' using 1:3 with linespoints lw 2 title 'cp -a', 'data/scaling-initial-cp_-a_+_sync.dat' using 1:3 with linespoints lw 2 title 'cp -a + sync', 'data/scaling-initial-lsyncd_rsync.dat' using 1:3 with linespoints lw 2 title 'lsyncd rsync', 'data/scaling-initial-rsync_-a.dat' using 1:3 with linespoints lw 2 title 'rsync -a', 'data/scaling-initial-tetherd.dat' using 1:3 with linespoints lw 2 title 'tetherd', 'data/scaling-initial-tetherd_--no-durable.dat' using 1:3 with linespoints lw 2 title 'tetherd --no-durable'
set output 'watch_scaling_time.png'
set title 'Scaling: watch setup, time to watching vs files'
set xlabel 'files (log)'
set ylabel 'time to watching (s, log)'
set logscale xy
set autoscale y
plot 'data/scaling-watch-inotifywait_-m_-r.dat' using 1:2 with linespoints lw 2 title 'inotifywait -m -r', 'data/scaling-watch-tetherd_watch.dat' using 1:2 with linespoints lw 2 title 'tetherd watch'
set output 'watch_scaling_rss.png'
set title 'Scaling: watch setup, RSS watching vs files'
set xlabel 'files (log)'
set ylabel 'RSS watching (MiB, log)'
set logscale xy
set autoscale y
plot 'data/scaling-watch-inotifywait_-m_-r.dat' using 1:3 with linespoints lw 2 title 'inotifywait -m -r', 'data/scaling-watch-tetherd_watch.dat' using 1:3 with linespoints lw 2 title 'tetherd watch'
