// Reads iChannel0 every way Shadertoy code does, but through a sampler2D parameter
// (see sampler_param.glsl) (hypna test file).
#define BLUR(s, uv, px) (0.25 * (texture(s, uv + vec2(px.x, 0.0)) + texture(s, uv - vec2(px.x, 0.0)) \
    + texture(s, uv + vec2(0.0, px.y)) + texture(s, uv - vec2(0.0, px.y))))

void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    vec2 uv = fragCoord / iResolution.xy;
    vec2 px = 1.0 / iChannelResolution[0].xy;
    vec4 a = texture(iChannel0, uv);
    vec4 b = textureLod(iChannel0, uv, 0.0);
    vec4 c = texelFetch(iChannel0, ivec2(fragCoord), 0);
    vec2 size = vec2(textureSize(iChannel0, 0));
    vec4 d = BLUR(iChannel0, uv, px);
    fragColor = (a + b + c + d) * 0.25 + 0.0001 * size.x;
}
