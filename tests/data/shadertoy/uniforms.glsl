// Every Shadertoy uniform hypna provides (hypna test file).
float ring(vec2 p, float r) { return smoothstep(0.02, 0.0, abs(length(p) - r)); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec2 p = (2.0 * fragCoord - iResolution.xy) / iResolution.y;
    vec2 m = iMouse.xy / iResolution.xy;
    float r = ring(p - (m - 0.5) * 2.0, 0.3 + 0.1 * sin(iTime));
    vec3 c = 0.5 + 0.5 * cos(iTime + uv.xyx + vec3(0.0, 2.0, 4.0));
    c += r;
    c += 1e-7 * (iTimeDelta + float(iFrame) + iFrameRate + fract(iDate.w) + iSampleRate
        + iChannelTime[0] + iChannelResolution[0].x + iMouse.z + iMouse.w);
    fragColor = vec4(c, 1.0);
}
