"""What the kit's own string literals spell, docstrings and comments aside: every word (lower-cased), every
chunk that names a place (a path, an address), every character beyond ASCII. kit.infra.known keeps them as the kit's
own. Written by tools/spoken.py from kit/, never by hand: tests/unit/test_known.py fails while it is stale."""

_WORDS = """
0 00 000 0005 002 00ff00 01 02 02d 02x 03 03d 04 04x 05 06 0645ad 08x 0f 0x 0x1002 0x10de 0x1f77b4 0x2ca02c 0x8086
0x9467bd 0xd62728 0xff7f0e 1 10 100 10001 1001 1080 1080p 1099511627776 10le 11 12 12le 13 15 15em 15px 16 16g 16le 17
176x144 18 1800 19 1920 1920x1080 1a7f37 1em 1f 1fr 1neg 1p 1px 1s 1st 2 20 2000 2023 21 2160 22 222 24 24000 240p 25
25em 25fps 264 265 266 28em 29 2e 2em 2f 2g 2pi 2px 3 30 300 30000 30449 31 32 330 33133 35 36 360 37 3986 3d0h 3em 3f
3g 3g2 3gp 4 40 4096 420 420jpeg 420mpeg2 420p10 420p12 420paldv 422 422p10 422p12 43 44 444 444p10 444p12 45 48000 480p
4em 4f 4g 4k 4px 5 50 51 540 555 56 5em 5f 5s 6 60 600 60000 62 6379 64 640x360 666 6em 6f 6g 7 700 71 720 720p 777 78em
7a0010 7em 7z 8 80 83 85em 8640 89a 8bit 8em 9 90 95 97 9a 9em a a100 aac aae aarch64
abezhikmnoptyxabeiknoptuxabekmhopctyxijsqwaeopcyxijshdqwij abgr abnormally about above abs absent absolute ac ac3
acceleration accept accepted accepts account across activation adam adapter adaptercompatibility adapters add address
adds adf adm adm2 adm3 admin administrator adrenalin advanced aff after afterok again against agg agree agreement ahead
ai aif aiff align alike alive all allf alloc allocate allow allowlist allows alls alone alpha already also alt altra
amber amd amd64 amf amfrt64 among ampere amr an and anew anim another answer answered answers answers1 any anyone
anywhere apart ape api apng appears appended apple application applied applies arc arch archive are area arg argb args
argv aria arib arm64 around array arrays artefacts arw as ascending ascii asf aside ask asked asks ass assert assign at
aten atom attached attachment attempts au audio auth authentication auto autograd av1 av1an available avcodec average
averaged avformat avframe avg avi avif avio away axes axis axis1 axis2 b b00020 b35900 b67 back background backslash
backslashes backup backward bad balanced band banner barber bars base base64 based baseline baselines bash bat batch
batches be beat beaten beats because becomes been before being belongs below beside besides best better between beyond
bgra bias bicubic big bigger bilinear bin binaries binary bit bitrate bits bitstream biuf black block blocktime blue bmp
bno body bold bool boolean bootstrap border both bottom bottomleft bound bounded box boxes bpp br brand break breakdown
breaks bright brings broken browser bsd bsf bt1361e bt2020 bt2020c bt2020nc bt470bg bt470m bt709 btbn budget buffer
buffered bug build builds built builtin builtins bundle bundles bundlestep busy but by bypass bypassed byte bytes
bytestream bz2 bzip2 c c0 c1 c2 c3 c4 c83232 cache cached caf calibrate calibrated calibrates calibration call calls
cambi came can candidates cannot canonical canonical6 cap capable capitals caps captures card carried carries carry cast
cause cause2 cavs cbwr ccc cd cdf ceil ceiling cell cells center centre centred cfg cgroup chain chains challenger
champion change changed changelog changes channel character characters charset chart check checked checking checks
checksum child chmod choice choose chose chosen chroma chunk chunks ciminstance cividis clamp class classes classname
clause clear cleared cli click client clip clipped clips clock cloexec cloned close closed closing cluster cmd cmxv code
codec coded coef0 coefs coerce collaborator collapse color colorspace colorspectrum colour coloured colours column
columns combined come comes comma command commands commit committed common compact compare compared compares comparing
comparison compiled complete completed completeness complex compressed compression compute computed computes concat
concealed concealing conceals concurrent conf confidence configuration conflict conflicts conformal confounded connect
connected constant constrained consumer consumers contact container content contents context contiguous contract
contrast control controller conversion convert converted converts convertto copied copies copy core cores corpora corpus
corpusstep correction corrections correlation corrupt cosine could couldn count counted counting counts cover coverage
covers cpu cpuexecutionprovider cpuinfo cpus cq cq32 cqp cqs cr2 cr3 crashed crashes create created creation credential
crf crfs criterion crop cropped cropping crossed csf csv ctrl cuda cue cuinit current cursor curve curves cut cuts cwd
cyan d d1 d3d11 d3d12 da damage damaged dark darwin dashed data dataset date db dc dd ddof ddthh de deal dealt death
debugger decay decided decimal declare declared declares decode decoded decoder decodes decoding deep deeper deepzoom
default defaults defined degree delete deleted deletes delta demo demux demuxer demuxing denied dense density dep depend
dependency depends depth derivative derived describe describes description design detail details detect detected
detection detects dev deviation device devices dhi diagnosis dict dicts did dies diff differ difference different
differently differs digest1 digests digit digits dim dimensions dims dir direct directly directories directory dirs dis
disagrees discard discarded disk display dist distance distil distillation distilled distils distinct distorted div
divides divisible dll dlm dlmw dlo dmesg dn dng do doc docs doctype document docx does doing done door dot down
downscaled downscaler dozen dp dpx draw drawn draws dri drift drive driver drivers driverversion drives drm drop dropout
dropped drops dry dt dts dumped duplicate duplicates duration during dv e e1 e32 eac3 each earlier ebu3213 echo ed25519
edge edited edl ee effect eftype egl either element ellipsis else elsewhere embedded emoji empirical empty en enable
enabled enables enc encode encoded encoder encoders encodes encoding end ended ending ends engine enhancement enhn
enough ens ensemble entered entr entries entry env environ envvar eof epoch epochs epsilon epyc equal erf err errno
error errors es escape escapes estimating eta euo evaluate evaluated evaluates even event events ever every everyone
everything everywhere evidence exact exactly exceeded exceeds except exception exe exec executable exist existing exists
exit exited exiting exp expand expansion expected explode export exported exports expression exr extended extension
extra extracted extracting extractors extrapolated extrapolation f f3f3f3 f4v f7c5c5 fa factor factors fail failed
failing fails failure fall fallback falls false families family far fast fatal fault fb fcc fchmod fd feat feature
features fed feed feeds few fewer ffe9b3 fff4e0 ffmpeg ffmpegs ffv1 ffvhuff fh fi field fields fifo figcaption figure
figures file files fill filled film filter filtering filters final find fine fingerprint fingerprints finish finished
finite first fit fitted fix fixed flac flag flagged flags flat flatten flatter float float32 float64 floor flush flv fmt
fn fold folder folders folds follow followed following follows font fonttype for force forced forecast fork form format
formats found fps fpsfps fr fractal fraction fractions fragment frame framecrc framehash framenum framerate frames free
freebsd from fs fsize full function furthest fused future g g1 g2 gain gamma gamma22 gamma28 gap gate gated gates gather
gathered gathers gauss gaussian gave gb gbr gbrap gbrp geforce gelu gemm gen1 generalised geometry get geteuid getpgid
gets ghz gib gid gif give given gives global go goes going gone gpu gpus gradients graph graphics gray gray10le green
grey grid group grouped grouping groups gte gtx guarantee guaranteed guess guide gz gzip h h1 h100 h2 h261 h263 h264
h265 h266 h26l h3 had half hand handling hang happens hard hardware harmonic harness has hash hashed hashes hashsalt
have hdr head header headers heartbeat heavily heic heif height heights held heldout help here hevc hex hh hi hidden
hide hierarchical high higher highest hint hold holding holdout holds home honest honoured host hot how hq href hrs htm
html http https huffyuv human hw hwaccel hwaccels hwupload hz i i8 i965 ico ictcp id identical identifier identity idf
idx iec61966 ies if ignore ignored ihd ik image image2 imageio img immutable import imported impossible in included
incompatible increasing incumbent independent index indices inf inferno infinity info infra ini init initializer
initializing inject inline inner inode input inputs inside install installed installs instead instinct int int64 integer
intel inter intercept intercepts intermediates internal interpolates interrupted interruption interspersed interval
intervals into intra inv invalid invoked ipt ipv6 iris is isdir isnan it italic item itex its itself iu ivf j j2k jl job
jobs join joined joins journal jp2 jpeg jpegls jpegxl jpg json jsonl judge judged judges jump jumping just jxl k kb kbps
keep keepdims keeps kept kernel kernels kernelscale key keys kfold khz kib kill killed killer killpg kind kinds kit kits
kmp knob knots know known knows krocc kv l l1 l2 label lack lacks ladder lagarith lanczos land lands lang laptop large
larger largest last later latest lavfi layer layers layout ldd le lead leads learn learned learning learns learnt least
leave leaves leaving ledger ledgers lee left legacy len length less let lets letter letterbox letters level levels li
libaom libcuda libgomp libmfx libraries library libsvm libsvmepsilonsvr libsvmnusvr libsvtav1 libva libvmaf libvpl
libvpl2 libvpx libvvenc libx264 libx265 license licenses lie lies life lift light likeness limit limits lin line linear
lines link linked linking links linux list listdir listed lists little live ljpeg lo load loadable loaded loader loads
local location lock lockbusy log log100 log1p log316 logged login logistic loglevel logm logs lone long longer look
looked looks loop loops lose losing loso losostep loss lossless losslessly lost low lower lowercase lowest lp lr lrc ls
lte lum lusoris m m1 m1v m2t m2ts m2v m32 m3u m3u8 m4a m4b m4v mac machdep machine macos made magenta magicyuv main make
makes making malformed malloc mandelbrot manifest manifests many map mapping margin mark marked marker markersize marks
masks master mastering match matmul matplotlib max maximum maxiter may mb mcnemar md md5 mean means meanwhile measure
measured measures media mediacodec median medium mem memavailable member members meminfo memory memtotal merge merged
merges mergesort mesa message meta metadata method methods metric metrics mfx mhz mib micro mid midi min minimum minmax
minus minus26 mismatch miss misses missing mix mixed mixes mj2 mjpeg mjpg mka mkdir mkl mkv mlp mm mmco mmxv mobile mod
mode model models moderate modes modification modified module mold moment mono mono10 monotonically moov more most
motion motion2 motion3 mount mov move moved moves moving mp mp2 mp3 mp4 mpeg mpg mplconfigdir mpv mpx ms mse mts mu mul
multiplied multiplier munge must muxer muxing mv mxf mxv mybox myproject n nal name named names naming nan narrow
narrowest native natural nav nc nd ndjson near need needed needs nef neg negative neighbor neither nested netbsd netflix
nets network networks never new newer newest next nfkd nfo nij nkl nn nnf no nobody node nodes nofile nofollow noheader
noise noisybars nominal nonblock none noninteractive noprofile nor norm normal normalisation normalised normalises
nostats nostdin not notation note notes nothing notypeinformation nounits now nowrap nproc npy nr nrho ns nt nth nu null
number numbered numbers numpy nunique nut nv12 nvenc nvidia nw o object objects obu occurred octaves odd ods odt of off
offers offline offset offsets often oga ogg ogv oh ok old older omit omp on once one onehot ones onevpl only onnx
onnxruntime op open openbsd opencl opening opens operation opinion ops opset opt optimistic optimizer option optional
options opts opus or oracle orange order orf org os oserror other others otherwise otool out outcome outpts output
outputs outside over overall overflow overread overrides overriding ow own owner p p0 p010le p1 p2 p3 p4 p5 paces
package packages packet packets packs padding page pair paired pairs pairs1 palette pam pandas panel panels panic par2
parallel parameters params parity parquet parsable parse parser parsing part partition partly parts pass passed passes
passing passive passthrough past path paths pbm pc pcx pdf peak pem pending per percent percentile perfect period perlin
permission permissions permitted persistence pgid pgm photocd pic pick picks picture pictures pid pids pillarbox ping
pip pipe pipefail pipeline pipes pix pixel pixels pkcs place placed plain plan planes planned planning plant plasma
platform platformdirs platforms plausibility plausible played player plays plcc plccs please plot pls plus png pnm
pnpdeviceid point pointer points policy poly polynomial pool pooled pooling pools population pos positive posix post
powershell pp ppm ppt pptx pred predicted prediction predictions predicts pref prefer prefix prefixes prereqs
prereqsstep preset press prev previous primaries prime print print4 printable printed prints prior private prob proba
probability probb probe probed probes probing problem proc process processes processing processor producer profile
program programs progress progressive project promote proposed protocol prove proved proven provenance provided proxy
psd pt ptex pts public purpose put puts pwsh py pyarrow pyramid python pythonpath pythonunbuffered q q1 q2 qoi qos qp
qpprime qs qscale qsv qtrle quad quadro quality quantisation quantiser quartiles queried queries query queued quick
quota quotes r r10k r210 r32 radeon radeonsi radius raf raise ran random range ranges rank ranking rar rate ratio raw
rawvideo ray rb rbf rc rd re reached reaches read readable reading readme reads real realrows realtime reason rebuilds
rebuilt received receives recent recipe recognised recommend recomputable recompute reconfiguring record recorded
recording records recv red redirect redo redoes redone reducesum ref reference references refit refitting refresh refs
refusal refuse refused refused5 refuses refuted regimes registry regression regressor regroup regrouped regroups regular
reinitializing reinstalled relative release relu remaining remembered remote remount remove removed removes rename
renamed renames render renderd rendered rendering renders repeat repeatable repeated repeats replace replaced replacing
report reported reports reproduced request requested requeue required rerun reruns res rescale rescore reserve reserves
residual residuals resolution resolve resolved resources responding rest restore restored resubmitted result results
resume resumed resumes resuming retry return returned reused reuses rewrite rewritten rfc rgb rgba rho rich ridge right
rlimit rm rmse rmtree ro role room root rotate rotation rounded row rows rst rtf rtx rule rules run rung rungs running
runs runtime rw2 rx ryzen s s01 s02 s03 s04 s05 s2 said same samefile sample sampled samples sampling samplings sans sar
saturated saved saw say says sbatch scalar scale scale0 scale1 scale2 scale3 scaled scaler scalers scales scaling scc
schedstat scheduler schema scheme scipy scontrol score scored scores scoring scorings script scripts sdr search sec
second seconds section see seed seeds sees segment segmentation select selected self send sender sending sends sense
sent separate separated sequence serif serves session sessions set setpts sets settb setting settings setts several sfv
sgi sh sha sha1 sha256 sha256s shape shard shards share shared shares shell ship shipped ships short shorter shortest
shortfall shot shots should show showinfo shown shows shutil sidecar sidecars sierpinski sighup sigkill sigma sign
signal signals signature signed signing signs sigsegv sigstore sigxfsz silently silicon similar sinc since sinfo single
six size sizes skip skipped skips slash slice slightly slope slopes slot slots slow slowest slurm slurmctld small
smaller smallest smi smooth smpte170m smpte2084 smpte2085 smpte240m smpte428 smpte431 smpte432 smptehdbars sn snapdragon
snapshot snn so socket software solid some someone something somewhere soon sooner sort sorted source sources space
spaced spaces span spans sparse spawned spdx speaks special spectrum speed speedup spelled spelt spin spinning spline
split splits spread spreads spx sq sqrt sqrt2 squeeze squeue src srocc srt ss ssa ssz st stable stage staged stale stall
stalled stalls standard start started starting startpts starts stat state static statistic statistics status stay std
stddev stderr stdin stdout stem step steps sticky still stop stopped stops storage stored stores str stream streams
strict strictly string stuck student study style sub subfolders submission submit submits submitted submitting subsets
subtitle subtitles succeeded such suitable sum summary sup superseded supersedes superseding support supported supports
surrogate surrogateescape surrogatepass suspect suspects sv svg svm svr svrs svtav1 sw switch symbolic sync synthetic
sys sysctl system system32 systemctl systemroot sz t t1 t2 t3 tab tab10 tab20 table tables tags tail take taken takes
taking tallest tampered tar tarball tarballs targa target task tasks tb tbody tbr td teacher teachers tell tells temp
template temporal temporaries temporarily temporary ten terminal terminating tesla test tested testpattern tests
testsrc2 text texture tga tgz th than that the thead their theirs them themselves then there these they third this thm
those though thread threadripper threads three threshold thresholds through thumbnail thumbnails tib tied tif tiff tight
time timecode timed timeout times timestamp timestamps tiny titan title titles tmp tmpdir to tod today together token
tokens told tolerance toml too took tool tools top topleft torch total tr trace traceback trailer train trained trainer
training trains transcoding transfer transform transforms transit transport transquant trc tree trial trials triangle
tried tries trim true truncated trusted trusting trusts try ts tscale tsv tt ttml tty tune tuple turn tv twice twins two
txt type typed typical u ud800 udfff uhd ui uid ul ulimit ultra umask unable unavailable unbounded uncertainty unchanged
unclipped undecided under unencrypted union unit unknown unless unlimited unmeasured unreadable unref unsafe unseen
unset unsigned unsqueeze unsupported untarred until untouched untrained untrusted unused unwritten up update upgrade
upper upscaled upscaler upscales upstream uri url us usable usage use used user uses using usr utc utf utvideo uuid4 uv
v v0 v1 v2 v210 v3 v308 v4 v408 v410 va vaapi vainfo vainitialize val valid validate validation value valueerror values
vanished var variable varies vary vas vbr vc1 vector vectors vega ven vendor venv verbose verdict verdictstep
verification verifies verify version versions vertical vf via video videocontroller videos videotoolbox viewed viewer
vif violation viridis virtual vis visible vld vlt vmaf vmaftune vob vocab vocabulary vost vote vouch vp9 vs vtt vulkan
vvc w wait waiting waits warn warning warnings warns was watch watches wav way ways wb webm webp weight weights well
went were what whatever wheels when where wherever whether which whichever while white who whole whose why wide widen
wider width will willett win32 window windows wiped with withheld within without wma wmv word words work worker working
works worse worst worth would wrap wrapped wrapper writable write writes writing written wrong wrote wv wvm wxh x x0 x1
x264 x265 x3 x32 x86 xbin xbm xdev xdg xe xeon xerror xls xlsx xml xmp xpm xr xs xscale xyscss xz y y0 y1 y41p y4m ya
yaml ycgco yellow yes yet yml you your yours yourself yscale yuv yuv4 yuv410p yuv420p yuv420p10le yuv420p12le
yuv420p16le yuv422p yuv422p10le yuv422p12le yuv422p16le yuv444p yuv444p10le yuv444p12le yuv444p16le yuv4mpeg2
yuv4mpegpipe yuva yuvj yyyy z z0 za zero zeros zip zlib zoom zst zstd
αβεζηικμνορτυχαβεικνορτυχавекмнорстухіјѕԛԝаеорсухіјѕһԁԛԝıȷ
"""
WORDS = frozenset(_WORDS.split())
PLACES = frozenset((
    '+)(?::[0-9]*)?(?:/', '/', '/03_loso/members/', '/?#[]@', '/\\S*libvmaf[^\\s', '/a', '/b', '/b><br', '/body></html',
    '/details', '/dev/dri', '/dev/full', '/div', '/div></div', '/environ', '/figcaption></figure', '/h1', '/h2', '/i',
    '/li', '/nav', '/p', '/path/to/clips', '/proc', '/proc/cpuinfo', '/proc/meminfo', '/proc/self/fd/', '/shard<K>of',
    '/span', '/style></head><body', '/summary', '/sys/class/drm', '/sys/fs/cgroup/memory.max',
    '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/tbody></table', '/td', '/td></tr', '/td><td', '/th', '/tmp', '/tr',
    '/tr></thead><tbody', '/ul', '/usr/tmp', '/var/tmp', '=/var/cache/kit', 'C:\\Windows', 'HOME=/path/to/your/folder',
    'Hh][Tt][Tt][Pp][Ss]?://', 'TMPDIR=~/tmp', '\\\\', '\\\\u[dD][89a-fA-F',
    '^"\\\\]*+(?:\\\\.[^"\\\\]*+)*+(?:"|\\\\?\\Z)|[\\[\\', '^"\\\\]|\\\\.)*"|[][{}:\\n',
    '^|[=:,(\\[{\'\\"`])(/|~|\\\\\\\\)|[A-Za-z]:[\\\\/]|://|[^\\W_]@[^\\W_]|[^\\W_]@$|^@[^\\W_',
    'https://spdx.org/licenses/BSD-3-Clause.html', "open('/proc/", "os.listdir('/proc", "os.path.isdir('/proc",
    'qsv=qs@va', 'ray://', 'ray://HEAD:10001', 'version:\\s*(.+', '|[/', '|[/?])*)?(?:#', '~', '~/.ray/auth_token',
    '~/tmp',
))
CHARACTERS = frozenset('ıȷΑΒΕΖΗΙΚΜΝΟΡΤΥΧαβεικνορτυχЅІЈАВЕКМНОРСТУХаеорсухѕіјһԁԚԛԜԝ—…')
