// A sampler2D function parameter: Shadertoy allows it, Vulkan GLSL does not (hypna test file).
vec4 tap(sampler2D s, vec2 uv) { return texture(s, uv); }

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    fragColor = tap(iChannel0, fragCoord / iResolution.xy);
}
