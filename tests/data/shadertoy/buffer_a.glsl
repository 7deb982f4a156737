// Buffer A: a feedback trail of a moving dot (reads itself as iChannel0). hypna test file.
void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec4 previous = texture(iChannel0, uv);
    vec2 dot = vec2(0.5 + 0.35 * cos(iTime * 1.3), 0.5 + 0.35 * sin(iTime * 1.7));
    float d = length((uv - dot) * iResolution.xy / iResolution.y);
    float spot = smoothstep(0.05, 0.0, d);
    fragColor = vec4(max(previous.rgb * 0.97, vec3(spot, spot * 0.6, spot * 0.2)), 1.0);
    if (iFrame == 0) fragColor = vec4(0.0);
}
