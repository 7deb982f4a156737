#!/usr/bin/env python3
"""Streaming latency on loopback: `hypna run --stream udp://...` of a scene whose brightness is
an OSC param, received and decoded by an ffmpeg process; the time from sending the OSC change
to the first decoded frame showing it, ten times (median printed).

Usage (needs a display: prefix with `xvfb-run -a` on a headless machine):
    scripts/stream-latency.py target/debug/hypna
It writes its scene into a temporary folder and runs from there.
"""
import tempfile
import socket, subprocess, threading, time, os, sys, struct

SCENE = """[scene]
name = "latency"
size = [320, 180]

[params.flash]
default = 0.0
range = [0.0, 1.0]

[[pass]]
name = "out"
shader = "s.wgsl"
"""
SHADER = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(params.flash, params.flash, params.flash, 1.0);\n}\n"
work = tempfile.mkdtemp(prefix="hypna-latency-")
open(os.path.join(work, "s.toml"), "w").write(SCENE)
open(os.path.join(work, "s.wgsl"), "w").write(SHADER)
hypna = os.path.abspath(sys.argv[1])
os.chdir(work)
def osc(addr, val):
    a=addr.encode()+b'\0'; a+=b'\0'*((4-len(a)%4)%4)
    t=b',f\0\0'
    return a+t+struct.pack('>f',val)
up=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); up.bind(("127.0.0.1",0)); vport=up.getsockname()[1]; up.close()
op=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); op.bind(("127.0.0.1",0)); oport=op.getsockname()[1]; op.close()
W,H=320,180
rx=subprocess.Popen(["ffmpeg","-v","error","-fflags","nobuffer","-flags","low_delay","-probesize","200000","-analyzeduration","0",
  "-i",f"udp://127.0.0.1:{vport}?timeout=60000000","-f","rawvideo","-pix_fmt","gray","-"],stdout=subprocess.PIPE)
hy=subprocess.Popen([hypna,"run","s.toml","--no-watch","--osc",f"127.0.0.1:{oport}","--present","immediate","--stream",f"udp://127.0.0.1:{vport}","--record-no-audio"],stderr=subprocess.DEVNULL)
frames=[]
def reader():
    n=W*H
    while True:
        b=rx.stdout.read(n)
        if len(b)<n: break
        frames.append((time.time(), sum(b[::97])/len(b[::97])))
threading.Thread(target=reader,daemon=True).start()
t0=time.time()
while not frames and time.time()-t0<60: time.sleep(0.05)
print("first frame after",round(time.time()-t0,2),"s")
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
lat=[]
val=0.0
for k in range(10):
    time.sleep(1.0)
    val=1.0-val
    n0=len(frames)
    sent=time.time(); s.sendto(osc("/hypna/param/flash",val),("127.0.0.1",oport))
    while time.time()-sent<3:
        hit=[f for f in frames[n0:] if (f[1]>128)==(val>0.5)]
        if hit: lat.append(hit[0][0]-sent); break
        time.sleep(0.002)
print("latencies ms",[round(l*1000) for l in lat])
lat.sort(); print("median ms",round(lat[len(lat)//2]*1000), "frames received",len(frames), "rate", round(len(frames)/(time.time()-t0),1))
hy.terminate(); hy.wait(); rx.kill()
