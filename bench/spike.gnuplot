# Draws the on-sale spike timeline: throughput (left axis) and p99 (right axis) per second.
# Call with: gnuplot -e "input='timeline.csv'; output='spike.png'" bench/spike.gnuplot
set terminal pngcairo size 1000,480 font "sans,10"
set output output
set datafile separator ","
set datafile commentschars "#"
set key top right
set grid
set xlabel "seconds since the on-sale opened"
set ylabel "responses per second"
set y2label "p99 latency (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set title "On-sale spike: throughput and p99 latency (status long-polls excluded from p99)"
plot input using 1:2 every ::1 with lines lw 2 title "responses/s" axes x1y1, \
     input using 1:3 every ::1 with lines lw 1 title "bookings accepted/s" axes x1y1, \
     input using 1:7 every ::1 with lines lw 2 dt 2 title "p99 (ms)" axes x1y2
