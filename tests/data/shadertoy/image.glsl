// Image: shows Buffer A (iChannel0) and the audio input (iChannel1). hypna test file.
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec3 trail = texture(iChannel0, uv).rgb;
    float fft = texture(iChannel1, vec2(uv.x, 0.25)).x;
    float wave = texture(iChannel1, vec2(uv.x, 0.75)).x;
    float bar = step(uv.y, fft * 0.3);
    float line = smoothstep(0.01, 0.0, abs(uv.y - wave));
    fragColor = vec4(trail + vec3(bar * 0.3, line, bar), 1.0);
}
